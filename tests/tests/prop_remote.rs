//! Property tests of the door into the loop on the mock backend: other
//! threads, played by the mock's foreign hook at seeded points of each
//! iteration (the start of an iteration, or the moment the loop is about
//! to sleep), post functions and hand messages to a PUSH handle through
//! `Sender`s, while the loop runs, the peer reads, and the handle is
//! stopped, resumed, closed, shut down, failed or its loop dropped.
//!
//! Checked after every step and at every foreign point:
//! - every message handed over reaches the peer exactly once, in the order
//!   of its channel (all of them, unless the handle closed or failed: then
//!   a prefix of them);
//! - a channel never holds more than its capacity of messages not yet
//!   taken by libzmq, and refuses (`QueueFull`) exactly when it holds that
//!   many;
//! - once the handle is closed, failed or its loop gone, every sender is
//!   refused with `Closed` or the fatal error, never blocked on capacity;
//! - posted functions run exactly once, in the order each thread posted
//!   them, never after the loop is gone (then `post` is `Err(Closed)` and
//!   the function is dropped uncalled);
//! - no lost wake-up: when the loop is about to sleep, every posted
//!   function has run and every message handed over is in the write queue
//!   or taken by libzmq;
//! - a live sender keeps a writing handle active and the loop alive.

mod prop_support;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prop_support::config;
use proptest::prelude::*;
use tests::mock_harness::{Lp, Stream, mock_seed, new_loop};
use uzmq_core::mock::{
    MockConfig, MockKind, MockPeer, MockPoint, MockProbe, MockReactor, mock_pair,
};
use uzmq_core::{Error, Remote, RunMode, SenderHandle, StreamHandle};

/// What another thread does.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// `try_send` the channel's next message.
    Send(usize),
    /// Post the source's next function.
    Post(usize),
    /// Drop the channel's sender (its last clone).
    DropSender(usize),
}

/// When another thread acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Between two steps, the loop not running.
    Now,
    /// At the start of the next iteration.
    Iteration,
    /// As the loop next goes to sleep.
    Sleep,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Foreign(When, Action),
    Run(RunMode),
    PeerRecv,
    /// `stop()`: writes pause (a live sender no longer keeps it active).
    Stop,
    /// A write from the loop's thread (resumes writing).
    Write,
    Close,
    Shutdown,
    Terminate,
    DropLoop,
}

/// The state the test shares with the foreign hook.
struct Shared {
    remote: Remote<MockReactor>,
    senders: Vec<Option<SenderHandle<MockReactor>>>,
    capacity: Vec<usize>,
    /// Per channel, the sequence numbers handed over with `Ok`.
    handed: Vec<Vec<u32>>,
    /// Per source, the sequence numbers posted with `Ok`.
    posted: Vec<Vec<u32>>,
    /// What other threads will do, and when.
    queue: VecDeque<(When, Action)>,
    violations: Vec<String>,
}

struct World {
    lp: Option<Lp>,
    h: Stream,
    peer: MockPeer,
    probe: MockProbe,
    shared: Rc<RefCell<Shared>>,
    /// Per channel, the sequence numbers the peer got.
    received: Vec<Vec<u32>>,
    /// Messages the loop's own thread wrote that the peer got.
    own_received: usize,
    /// Functions that ran, as (source, seq), in the order they ran.
    ran: Arc<Mutex<Vec<(usize, u32)>>>,
    loop_gone: Arc<AtomicBool>,
    dropped_uncalled: Arc<AtomicUsize>,
    /// Posts refused with `Closed` (their functions dropped uncalled).
    refused_posts: usize,
    /// Closed, shut down, failed or loop gone: channels refuse.
    ended: bool,
    /// The context was terminated: the handle fails when it next looks.
    terminated: bool,
    stopped: bool,
    /// Messages the loop's own thread wrote.
    own_written: usize,
    /// Per channel, how many were handed over when `shutdown` was called:
    /// those are sent before the handle closes.
    at_shutdown: Option<Vec<usize>>,
}

/// Counts a posted function dropped without running.
struct DropToken {
    ran: bool,
    dropped: Arc<AtomicUsize>,
}

impl Drop for DropToken {
    fn drop(&mut self) {
        if !self.ran {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

const OWN: u8 = 255;

fn message(chan: u8, seq: u32) -> Vec<zmq::Message> {
    let mut body = vec![chan];
    body.extend_from_slice(&seq.to_le_bytes());
    vec![zmq::Message::from(&body[..])]
}

impl World {
    fn new(seed: u64, channels: &[usize], sources: usize, sndhwm: usize) -> World {
        let lp = new_loop(seed);
        let config = MockConfig {
            sndhwm,
            ..MockConfig::default()
        };
        let (socket, peer) = mock_pair(MockKind::Push, config, seed);
        let probe = socket.probe();
        let h = StreamHandle::new(&lp, socket).expect("a mock handle");
        let senders = channels
            .iter()
            .map(|&cap| Some(h.sender(cap).expect("a sender")))
            .collect();
        let shared = Rc::new(RefCell::new(Shared {
            remote: lp.remote(),
            senders,
            capacity: channels.to_vec(),
            handed: vec![Vec::new(); channels.len()],
            posted: vec![Vec::new(); sources],
            queue: VecDeque::new(),
            violations: Vec::new(),
        }));
        World {
            lp: Some(lp),
            h,
            peer,
            probe,
            shared,
            received: vec![Vec::new(); channels.len()],
            own_received: 0,
            ran: Arc::default(),
            loop_gone: Arc::default(),
            dropped_uncalled: Arc::default(),
            refused_posts: 0,
            ended: false,
            terminated: false,
            stopped: false,
            own_written: 0,
            at_shutdown: None,
        }
    }

    /// Installs the foreign hook: at each point, the queued actions meant
    /// for it run (after the checks that hold at that point).
    fn install_hook(this: &Rc<RefCell<World>>) {
        let world = Rc::downgrade(this);
        let lp = this.borrow().lp.clone().expect("the loop");
        lp.reactor().set_foreign(move |point| {
            let Some(world) = world.upgrade() else { return };
            let when = match point {
                MockPoint::Iteration => When::Iteration,
                MockPoint::Sleep => When::Sleep,
            };
            if when == When::Sleep {
                world.borrow().check_no_lost_wakeup();
            }
            world.borrow_mut().foreign(when);
        });
    }

    /// Runs the queued actions meant for `when` (all of them for `Now`).
    fn foreign(&mut self, when: When) {
        loop {
            let next = {
                let mut sh = self.shared.borrow_mut();
                match sh.queue.front() {
                    Some(&(w, action)) if w == when || when == When::Now => {
                        sh.queue.pop_front();
                        Some(action)
                    }
                    _ => None,
                }
            };
            let Some(action) = next else { break };
            self.act(action);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Send(c) => self.send(c),
            Action::Post(s) => self.post(s),
            Action::DropSender(c) => {
                let sender = self.shared.borrow_mut().senders[c].take();
                drop(sender);
            }
        }
    }

    /// Messages of channel `c` handed over and not yet taken by libzmq.
    fn outstanding(&self, c: usize) -> usize {
        let sh = self.shared.borrow();
        sh.handed[c].len() - self.taken(c)
    }

    /// Messages of channel `c` libzmq took: received by the peer, or in
    /// the socket's outbound pipe (exact with one channel; with several,
    /// the pipe's share of each is unknown, so count it for every one).
    fn taken(&self, c: usize) -> usize {
        let in_pipe = self.probe.pending_outbound();
        let sh = self.shared.borrow();
        (self.received[c].len() + in_pipe).min(sh.handed[c].len())
    }

    fn send(&mut self, c: usize) {
        let (sender, seq, cap) = {
            let sh = self.shared.borrow();
            let Some(sender) = sh.senders[c].clone() else {
                return;
            };
            let seq = u32::try_from(sh.handed[c].len()).expect("few messages");
            (sender, seq, sh.capacity[c])
        };
        let exact = self.shared.borrow().capacity.len() == 1 && self.own_written == 0;
        let outstanding = self.outstanding(c);
        let result = sender.try_send(message(c as u8, seq));
        let mut sh = self.shared.borrow_mut();
        match result {
            Ok(()) if self.ended => sh.violations.push(format!(
                "channel {c}: a send was taken after the handle ended"
            )),
            Ok(()) => {
                if exact && outstanding >= cap {
                    sh.violations.push(format!(
                        "channel {c}: a send was taken with {outstanding} of {cap} outstanding"
                    ));
                }
                sh.handed[c].push(seq);
            }
            Err(Error::QueueFull) if self.ended => sh.violations.push(format!(
                "channel {c}: QueueFull after the handle ended (a blocked sender would hang)"
            )),
            Err(Error::QueueFull) => {
                if exact && outstanding < cap {
                    sh.violations.push(format!(
                        "channel {c}: QueueFull with {outstanding} of {cap} outstanding"
                    ));
                }
            }
            Err(Error::Zmq(zmq::Error::ETERM)) if self.terminated && !self.ended => {
                // The handle failed for good: from now on, every call is refused.
                self.ended = true;
            }
            Err(Error::Closed | Error::Zmq(zmq::Error::ETERM)) if self.ended => {
                if !sender.is_closed() {
                    sh.violations
                        .push(format!("channel {c}: refused but not is_closed()"));
                }
            }
            Err(e) => sh
                .violations
                .push(format!("channel {c}: unexpected send result {e:?}")),
        }
    }

    fn post(&mut self, s: usize) {
        let (remote, seq) = {
            let sh = self.shared.borrow();
            (
                sh.remote.clone(),
                u32::try_from(sh.posted[s].len()).expect("few posts"),
            )
        };
        let ran = self.ran.clone();
        let gone = self.loop_gone.clone();
        let token = DropToken {
            ran: false,
            dropped: self.dropped_uncalled.clone(),
        };
        let result = remote.post(move |_lp| {
            // The whole token moves in (not just the field the closure sets).
            let mut token = token;
            token.ran = true;
            if gone.load(Ordering::SeqCst) {
                // Recorded as a run after the loop went; checked below.
                ran.lock().expect("log").push((usize::MAX, seq));
            }
            ran.lock().expect("log").push((s, seq));
        });
        let gone = self.lp.is_none();
        let mut sh = self.shared.borrow_mut();
        match (result, gone) {
            (Ok(()), false) => sh.posted[s].push(seq),
            (Err(Error::Closed), true) => self.refused_posts += 1,
            (r, gone) => sh
                .violations
                .push(format!("post: {r:?} with the loop gone: {gone}")),
        }
    }

    fn peer_recv(&mut self) {
        while let Some(msg) = self.peer.recv() {
            let body = &msg[0];
            if body[0] == OWN {
                self.own_received += 1;
                continue;
            }
            let seq = u32::from_le_bytes(body[1..5].try_into().expect("a seq"));
            self.received[usize::from(body[0])].push(seq);
        }
    }

    /// At the loop's sleep: nothing posted waits, nothing handed over sits
    /// in a channel.
    fn check_no_lost_wakeup(&self) {
        let ran = self.ran.lock().expect("log").len();
        let mut sh = self.shared.borrow_mut();
        let posted: usize = sh.posted.iter().map(Vec::len).sum();
        if ran != posted {
            sh.violations.push(format!(
                "the loop went to sleep with {} posted functions not run",
                posted - ran
            ));
        }
        if self.ended || self.terminated {
            return;
        }
        let handed: usize = sh.handed.iter().map(Vec::len).sum();
        let received: usize = self.received.iter().map(Vec::len).sum();
        let in_pipe = self.probe.pending_outbound();
        let queued = self.h.write_queue_size();
        // The loop's own writes are in the pipe and the queue as well.
        let own_pending = in_pipe + queued + received + self.own_received;
        if own_pending < handed {
            sh.violations.push(format!(
                "the loop went to sleep with messages handed over and not queued \
                 (handed {handed}, received {received}, in the pipe {in_pipe}, queued {queued})"
            ));
        }
    }

    /// The checks that hold after every step.
    fn check(&self) {
        let mut sh = self.shared.borrow_mut();
        for (c, got) in self.received.iter().enumerate() {
            // Exactly once, in order: what arrived is a prefix of what was
            // handed over.
            if !sh.handed[c].starts_with(got) {
                let handed = sh.handed[c].len();
                sh.violations.push(format!(
                    "channel {c}: received {got:?} is not a prefix of the {handed} handed over"
                ));
            }
        }
        let ran = self.ran.lock().expect("log").clone();
        if ran.iter().any(|&(s, _)| s == usize::MAX) {
            sh.violations
                .push("a posted function ran after the loop was gone".into());
        }
        for (s, posted) in sh.posted.clone().iter().enumerate() {
            let order: Vec<u32> = ran.iter().filter(|r| r.0 == s).map(|r| r.1).collect();
            if !posted.starts_with(&order) {
                sh.violations.push(format!(
                    "source {s}: ran {order:?}, not a prefix of posted {posted:?}"
                ));
            }
        }
        let live = sh.senders.iter().any(Option::is_some);
        if live && !self.ended && !self.terminated && !self.stopped {
            if !self.h.is_active() {
                sh.violations
                    .push("a live sender does not keep its writing handle active".into());
            }
            if self.lp.as_ref().is_some_and(|lp| !lp.alive()) {
                sh.violations
                    .push("a live sender does not keep the loop alive".into());
            }
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Foreign(When::Now, action) => self.act(action),
            Step::Foreign(when, action) => self.shared.borrow_mut().queue.push_back((when, action)),
            // Run by `run_case`, with no borrow of the world held.
            Step::Run(_) => {}
            Step::PeerRecv => self.peer_recv(),
            Step::Stop => {
                if self.h.stop().is_ok() {
                    self.stopped = true;
                }
            }
            Step::Write => {
                if self.h.write_multipart(message(OWN, 0)).is_ok() {
                    self.own_written += 1;
                    self.stopped = false;
                }
            }
            Step::Close => {
                self.h.close();
                self.ended = true;
                self.at_shutdown = None;
            }
            Step::Shutdown => {
                if !self.ended {
                    let handed = self.shared.borrow().handed.iter().map(Vec::len).collect();
                    self.at_shutdown = Some(handed);
                }
                self.h.shutdown(|_, _| {});
                self.ended = true;
            }
            Step::Terminate => {
                self.peer.terminate();
                self.terminated = true;
            }
            Step::DropLoop => {
                self.at_shutdown = None;
                self.loop_gone.store(true, Ordering::SeqCst);
                self.lp = None;
                self.ended = true;
            }
        }
        if self.h.is_closed() || self.lp.is_none() {
            self.ended = true;
        }
    }

    /// The end of a schedule: other threads finish what they queued and
    /// drop their senders; the loop runs until quiet with the peer reading.
    fn finish(&mut self) {
        self.foreign(When::Now);
        let channels = self.shared.borrow().senders.len();
        for c in 0..channels {
            self.act(Action::DropSender(c));
        }
        if let Some(lp) = self.lp.clone() {
            lp.reactor().clear_foreign();
            if self.stopped && self.h.write_multipart(message(OWN, 0)).is_ok() {
                self.own_written += 1;
                self.stopped = false;
            }
            for _ in 0..2_000 {
                self.peer_recv();
                lp.run(RunMode::NoWait).expect("run");
                if lp.reactor().is_quiescent() && self.peer.pending_outbound() == 0 {
                    self.peer_recv();
                    if self.probe.pending_outbound() == 0 && !lp.alive() {
                        break;
                    }
                }
            }
        }
        self.check();
        let mut sh = self.shared.borrow_mut();
        if self.lp.is_some() {
            let ran = self.ran.lock().expect("log").len();
            let posted: usize = sh.posted.iter().map(Vec::len).sum();
            if ran != posted {
                sh.violations
                    .push(format!("{} posted functions never ran", posted - ran));
            }
            if let Some(at_shutdown) = self.at_shutdown.as_ref().filter(|_| !self.terminated) {
                for (c, got) in self.received.iter().enumerate() {
                    if got.len() < at_shutdown[c] {
                        sh.violations.push(format!(
                            "channel {c}: {} handed over before shutdown, {} sent",
                            at_shutdown[c],
                            got.len()
                        ));
                    }
                }
            }
            if !self.ended && !self.terminated {
                for (c, got) in self.received.iter().enumerate() {
                    if got != &sh.handed[c] {
                        let handed = sh.handed[c].clone();
                        sh.violations.push(format!(
                            "channel {c}: received {got:?}, handed over {handed:?}"
                        ));
                    }
                }
            }
        }
    }

    /// After the loop is gone: the door is shut, and what waited was
    /// dropped uncalled.
    fn check_after_drop(&mut self) {
        self.lp = None;
        self.loop_gone.store(true, Ordering::SeqCst);
        self.act(Action::Post(0));
        let ran = self.ran.lock().expect("log").len();
        let posted: usize = self.shared.borrow().posted.iter().map(Vec::len).sum();
        let dropped = self.dropped_uncalled.load(Ordering::SeqCst);
        let mut sh = self.shared.borrow_mut();
        if !sh.remote.is_closed() {
            sh.violations
                .push("the Remote is open after its loop went".into());
        }
        // Every function posted with `Ok` ran or was dropped uncalled, and
        // those refused after the drop were dropped too.
        let refused = self.refused_posts;
        if ran + dropped != posted + refused {
            sh.violations.push(format!(
                "posted {posted} (+{refused} refused): {ran} ran, {dropped} dropped uncalled"
            ));
        }
    }
}

fn action(channels: usize, sources: usize) -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0..channels).prop_map(Action::Send),
        3 => (0..sources).prop_map(Action::Post),
        1 => (0..channels).prop_map(Action::DropSender),
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![Just(When::Now), Just(When::Iteration), Just(When::Sleep)]
}

/// Steps of a schedule; with `ending`, the handle or its loop may end
/// (close, shutdown, context terminated, loop dropped) in the middle.
fn schedule(channels: usize, sources: usize, ending: bool) -> impl Strategy<Value = Vec<Step>> {
    let ongoing = prop_oneof![
        12 => (when(), action(channels, sources)).prop_map(|(w, a)| Step::Foreign(w, a)),
        6 => prop_oneof![Just(RunMode::NoWait), Just(RunMode::Once)].prop_map(Step::Run),
        4 => Just(Step::PeerRecv),
        1 => Just(Step::Stop),
        1 => Just(Step::Write),
    ];
    let ends = prop_oneof![
        Just(Step::Close),
        Just(Step::Shutdown),
        Just(Step::Terminate),
        Just(Step::DropLoop),
    ];
    let step = if ending {
        prop_oneof![25 => ongoing, 1 => ends].boxed()
    } else {
        ongoing.boxed()
    };
    prop::collection::vec(step, 0..=60)
}

fn case() -> impl Strategy<Value = (u64, Vec<usize>, usize, usize, Vec<Step>, bool)> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(channels, sources)| {
        (
            any::<u64>(),
            prop::collection::vec(1usize..=4, channels),
            Just(sources),
            1usize..=4,
            schedule(channels, sources, true),
            any::<bool>(),
        )
    })
}

fn run_case(
    seed: u64,
    caps: &[usize],
    sources: usize,
    hwm: usize,
    steps: &[Step],
    drop_at_end: bool,
) -> Result<(), TestCaseError> {
    let world = Rc::new(RefCell::new(World::new(
        mock_seed(seed),
        caps,
        sources,
        hwm,
    )));
    World::install_hook(&world);
    for &step in steps {
        if let Step::Run(mode) = step {
            // The foreign hook borrows the world while the loop runs.
            let lp = world.borrow().lp.clone();
            if let Some(lp) = lp {
                lp.run(mode).expect("run");
            }
        } else {
            world.borrow_mut().step(step);
        }
        world.borrow().check();
    }
    world.borrow_mut().finish();
    if drop_at_end {
        world.borrow_mut().check_after_drop();
    }
    let violations = std::mem::take(&mut world.borrow().shared.borrow_mut().violations);
    prop_assert!(violations.is_empty(), "{}", violations.join("\n"));
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Channels and posts from several threads, with the handle and the
    /// loop ending at random points.
    #[test]
    fn threads_reach_the_loop_exactly((seed, caps, sources, hwm, steps, drop_at_end) in case()) {
        run_case(seed, &caps, sources, hwm, &steps, drop_at_end)?;
    }

    /// One channel shared by several threads (exact capacity accounting),
    /// the handle never ended before the schedule's end.
    #[test]
    fn one_channel_capacity_is_exact(
        seed in any::<u64>(),
        cap in 1usize..=4,
        hwm in 1usize..=4,
        steps in schedule(1, 3, false),
    ) {
        run_case(seed, &[cap], 3, hwm, &steps, true)?;
    }
}
