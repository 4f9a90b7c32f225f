//! The state of one mock socket and its peer, and every operation on it:
//! the libzmq rules live here, each next to the code that models it.

use std::collections::VecDeque;

use super::fd_table::{self, Level};
use super::mailbox::{Command, Mailbox};
use super::pattern::{Completed, MockKind, Turn};
use super::pipe::{InPipe, OutPipe};
use super::probe::{Op, OpCounts};
use super::rng::SeededRng;
use super::socket::MockConfig;
use crate::{Error, Events, Io, RawFd, Result};

/// libzmq's `inbound_poll_rate`: `recv` processes commands only every this
/// many calls (and after finding nothing).
pub(crate) const INBOUND_POLL_RATE: u32 = 100;

const ETERM: Error = Error::Zmq(zmq::Error::ETERM);
const ENOTSUP: Error = Error::Zmq(zmq::Error::ENOTSUP);
const EHOSTUNREACH: Error = Error::Zmq(zmq::Error::EHOSTUNREACH);

/// One socket, its mailbox, both pipes and what the peer did.
#[derive(Debug)]
pub(crate) struct SocketModel {
    pub(crate) kind: MockKind,
    config: MockConfig,
    rng: SeededRng,
    pub(crate) fd: RawFd,
    pub(crate) mailbox: Mailbox,
    pub(crate) inbound: InPipe,
    /// One outbound pipe per peer: a single one but for a ROUTER, whose
    /// messages name their pipe in their first frame.
    pub(crate) outbound: Vec<OutPipe>,
    /// The pipe of the ROUTER message being sent (its id frame went through).
    route: Option<usize>,
    turn: Turn,
    /// `socket_base_t::_ctx_terminated`: set by processing `Term`, not by
    /// sending it: a socket learns of termination only from its mailbox.
    pub(crate) terminated: bool,
    term_sent: bool,
    pub(crate) socket_dropped: bool,
    send_ticks: u64,
    /// The loop iteration of the last operation, and how many operations
    /// that iteration has seen (see [`MockConfig::max_ops_per_iteration`]).
    ops_in_iteration: (u64, u64),
    /// `socket_base_t::_ticks`.
    recv_ticks: u32,
    pub(crate) counts: OpCounts,
    pub(crate) log: VecDeque<Op>,
}

impl SocketModel {
    /// A connected socket with a fresh pipe each way; registers its fd.
    pub(crate) fn new(kind: MockKind, config: MockConfig, seed: u64) -> Self {
        let level = Level::default();
        let fd = fd_table::register(level.clone());
        SocketModel {
            kind,
            rng: SeededRng::new(seed),
            fd,
            mailbox: Mailbox::new(level),
            inbound: InPipe::new(config.rcvhwm),
            outbound: (0..Self::pipes(kind, &config))
                .map(|_| OutPipe::new(config.sndhwm))
                .collect(),
            route: None,
            turn: Turn::initial(kind),
            terminated: false,
            term_sent: false,
            socket_dropped: false,
            send_ticks: 0,
            ops_in_iteration: (0, 0),
            recv_ticks: 0,
            counts: OpCounts::default(),
            log: VecDeque::with_capacity(config.op_log_len),
            config,
        }
    }

    fn record(&mut self, op: Op) {
        let iteration = fd_table::iteration();
        let (last, ops) = &mut self.ops_in_iteration;
        if *last != iteration {
            (*last, *ops) = (iteration, 0);
        }
        *ops += 1;
        assert!(
            *ops <= self.config.max_ops_per_iteration,
            "mock socket: more than {} operations in one loop iteration: a step \
             that goes round without progress (last ops: {:?})",
            self.config.max_ops_per_iteration,
            self.log,
        );
        match op {
            Op::Events => self.counts.events += 1,
            Op::Send => self.counts.sends += 1,
            Op::Recv => self.counts.recvs += 1,
        }
        if self.config.op_log_len == 0 {
            return;
        }
        if self.log.len() == self.config.op_log_len {
            self.log.pop_front();
        }
        self.log.push_back(op);
    }

    /// `socket_base_t::process_commands(0, false)`: drain the mailbox if its
    /// signal is raised (consuming it), applying every command.
    fn process_commands(&mut self) {
        // Bounded: applying a command never queues one to this mailbox.
        while let Some(cmd) = self.mailbox.next() {
            match cmd {
                Command::ActivateRead => self.inbound.activate(),
                Command::ActivateWrite { pipe, msgs_read } => {
                    self.outbound[pipe].activate_write(msgs_read);
                }
                Command::Term => self.terminated = true,
            }
        }
    }

    /// `xhas_in`: the pattern first (no pipe is touched when it forbids),
    /// then `fq_t::has_in` (true mid-message, else `check_read`, which puts
    /// an empty pipe's reader to sleep).
    fn has_in(&mut self) -> bool {
        self.kind.can_recv()
            && self.turn.may_recv()
            && (self.inbound.mid_message() || self.inbound.check_read())
    }

    /// `xhas_out`: the pattern first; PUB is always writable
    /// (`xpub_t::xhas_out`); else `lb_t::has_out` (true mid-message, else
    /// `check_write`, which marks a full pipe inactive).
    fn has_out(&mut self) -> bool {
        if !(self.kind.can_send() && self.turn.may_send()) {
            return false;
        }
        match self.kind {
            MockKind::Pub => true,
            // `router_t::xhas_out` with ROUTER_MANDATORY: some pipe is below
            // its HWM (`check_hwm`, no side effect), whichever the next
            // message is for.
            MockKind::Router => self.outbound.iter().any(OutPipe::has_room),
            _ => self.outbound[0].mid_message() || self.outbound[0].check_write(),
        }
    }

    /// `getsockopt(ZMQ_FD)`, which like every call fails once terminated.
    pub(crate) fn fd(&self) -> Result<RawFd> {
        if self.terminated {
            return Err(ETERM);
        }
        Ok(self.fd)
    }

    /// `getsockopt(ZMQ_EVENTS)`: process commands (consuming the signal),
    /// then compute POLLOUT and POLLIN with their side effects.
    pub(crate) fn events(&mut self) -> Result<Events> {
        self.record(Op::Events);
        if self.terminated {
            return Err(ETERM);
        }
        self.process_commands();
        if self.terminated {
            return Err(ETERM);
        }
        let mut events = Events::empty();
        if self.has_out() {
            events |= Events::WRITABLE;
        }
        if self.has_in() {
            events |= Events::READABLE;
        }
        Ok(events)
    }

    /// Whether this send processes commands: libzmq's `send` calls
    /// `process_commands(0, true)`, throttled by the CPU tick counter to
    /// about once per millisecond. Modelled as every `send_throttle`-th send
    /// plus a seeded chance, so a send may or may not consume the signal.
    fn send_processes(&mut self) -> bool {
        self.send_ticks += 1;
        let throttle = u64::from(self.config.send_throttle);
        (throttle > 0 && self.send_ticks % throttle == 0)
            || self.rng.chance(self.config.send_process_per_mille)
    }

    /// `socket_base_t::send` with `ZMQ_DONTWAIT`.
    pub(crate) fn send_frame(&mut self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>> {
        self.record(Op::Send);
        if self.terminated {
            return Err(ETERM);
        }
        if self.send_processes() {
            self.process_commands();
            if self.terminated {
                return Err(ETERM);
            }
        }
        // xsend of a receive-only type.
        if !self.kind.can_send() {
            return Err(ENOTSUP);
        }
        // EFSM (REQ awaiting its reply, REP owing none), which the trait
        // reports as WouldBlock. Nothing is processed after it.
        if !self.turn.may_send() {
            return Ok(Io::WouldBlock);
        }
        if self.kind == MockKind::Router && self.route.is_none() {
            return self.route_frame(frame, more);
        }
        let pipe = self.route.unwrap_or(0);
        let out = &mut self.outbound[pipe];
        // The HWM is checked on a message's first frame only (a ROUTER's
        // id frame): libzmq counts whole messages (`_msgs_written` grows on
        // the last frame), so once the first frame passed `check_write`,
        // the others pass too.
        if self.route.is_none() && !out.mid_message() && !out.check_write() {
            if self.kind != MockKind::Pub {
                // EAGAIN, and no command processing after it: the writer
                // learns that the peer read on only through `activate_write`.
                return Ok(Io::WouldBlock);
            }
            // `dist_t`: a PUB drops the whole message for a pipe at its HWM.
            out.set_dropping(true);
        }
        let taken = std::mem::replace(frame, zmq::Message::new());
        if out.is_dropping() {
            drop(taken);
            if !more {
                out.set_dropping(false);
            }
        } else if out.write(taken, more) {
            self.route = None;
            self.turn = self.turn.on(Completed::Sent);
        }
        Ok(Io::Done(()))
    }

    /// A ROUTER message's first frame (`router_t::xsend`): the id of the
    /// peer it goes to, which picks the pipe and is not delivered.
    fn route_frame(&mut self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>> {
        if !more {
            // An id with no message behind it: libzmq drops it.
            drop(std::mem::replace(frame, zmq::Message::new()));
            return Ok(Io::Done(()));
        }
        let pipe = match &frame[..] {
            [id] if usize::from(*id) < self.outbound.len() => usize::from(*id),
            // ROUTER_MANDATORY: no such peer. The frame stays the caller's.
            _ => return Err(EHOSTUNREACH),
        };
        if !self.outbound[pipe].check_write() {
            // EAGAIN, although POLLOUT may well be set (another pipe has
            // room); the pipe is inactive until its reader's `activate_write`.
            return Ok(Io::WouldBlock);
        }
        self.route = Some(pipe);
        drop(std::mem::replace(frame, zmq::Message::new()));
        Ok(Io::Done(()))
    }

    /// How many outbound pipes a socket of `kind` has.
    fn pipes(kind: MockKind, config: &MockConfig) -> usize {
        if kind == MockKind::Router {
            config.routes.max(1)
        } else {
            1
        }
    }

    /// One frame of the next message: the rest of a started one (already in
    /// the pipe, no check needed), else a new one if the pipe shows it.
    fn take_frame(&mut self, frame: &mut zmq::Message) -> Option<bool> {
        if !self.inbound.mid_message() {
            let msg = self.inbound.read()?;
            self.inbound.begin(msg);
        }
        let (next, more) = self.inbound.next_frame()?;
        *frame = next;
        if !more {
            self.turn = self.turn.on(Completed::Received);
        }
        Some(more)
    }

    /// `socket_base_t::recv` with `ZMQ_DONTWAIT`.
    pub(crate) fn recv_frame(&mut self, frame: &mut zmq::Message) -> Result<Io<bool>> {
        self.record(Op::Recv);
        if self.terminated {
            return Err(ETERM);
        }
        // Commands are processed only every `inbound_poll_rate` receives...
        self.recv_ticks += 1;
        if self.recv_ticks == INBOUND_POLL_RATE {
            self.process_commands();
            self.recv_ticks = 0;
            if self.terminated {
                return Err(ETERM);
            }
        }
        if !self.kind.can_recv() {
            return Err(ENOTSUP);
        }
        // EFSM: returned at once, without processing commands.
        if !self.turn.may_recv() {
            return Ok(Io::WouldBlock);
        }
        if let Some(more) = self.take_frame(frame) {
            return Ok(Io::Done(more));
        }
        // ...and after EAGAIN "in case there's an activate_reader command
        // already waiting": process, then try once more.
        self.process_commands();
        self.recv_ticks = 0;
        if self.terminated {
            return Err(ETERM);
        }
        Ok(match self.take_frame(frame) {
            Some(more) => Io::Done(more),
            None => Io::WouldBlock,
        })
    }

    /// What `events()` would return now, computed without any side effect.
    pub(crate) fn truly_events(&self) -> Result<Events> {
        if self.terminated {
            return Err(ETERM);
        }
        let (mut term, mut read_activated) = (false, false);
        let mut write_activated = vec![None; self.outbound.len()];
        if self.mailbox.would_process() {
            for cmd in self.mailbox.queued() {
                match cmd {
                    Command::ActivateRead => read_activated = true,
                    Command::ActivateWrite { pipe, msgs_read } => {
                        write_activated[pipe] = Some(msgs_read);
                    }
                    Command::Term => term = true,
                }
            }
        }
        if term {
            return Err(ETERM);
        }
        let mut events = Events::empty();
        let writable = match self.kind {
            MockKind::Pub => true,
            MockKind::Router => self
                .outbound
                .iter()
                .zip(&write_activated)
                .any(|(out, activated)| out.would_have_room(*activated)),
            _ => self.outbound[0].mid_message() || self.outbound[0].would_write(write_activated[0]),
        };
        if self.kind.can_send() && self.turn.may_send() && writable {
            events |= Events::WRITABLE;
        }
        if self.kind.can_recv()
            && self.turn.may_recv()
            && (self.inbound.mid_message() || self.inbound.would_read(read_activated))
        {
            events |= Events::READABLE;
        }
        Ok(events)
    }

    /// Each peer action may also raise a spurious signal (a seeded chance).
    fn maybe_spurious(&mut self) {
        if self.rng.chance(self.config.spurious_signal_per_mille) {
            self.mailbox.raise_spurious();
        }
    }

    /// The peer delivers a whole message (see [`super::MockPeer::send`]).
    pub(crate) fn peer_send(&mut self, parts: &[&[u8]]) -> bool {
        assert!(
            self.kind.can_recv(),
            "MockPeer::send: a {:?} socket cannot receive",
            self.kind
        );
        assert!(
            !parts.is_empty(),
            "MockPeer::send: a message has at least one frame"
        );
        // RCVHWM: the peer's writer finds the pipe full and keeps the message.
        let delivered = !self.inbound.is_full();
        if delivered {
            let msg = parts.iter().map(|p| zmq::Message::from(*p)).collect();
            if let Some(cmd) = self.inbound.deliver(msg) {
                self.mailbox.send(cmd);
            }
        }
        self.maybe_spurious();
        delivered
    }

    /// The peer at the end of outbound pipe `pipe` reads a whole message
    /// (see [`super::MockPeer::recv_from`]).
    pub(crate) fn peer_recv(&mut self, pipe: usize) -> Option<Vec<Vec<u8>>> {
        let read = self.outbound.get_mut(pipe)?.peer_read();
        self.maybe_spurious();
        let (msg, report) = read?;
        if let Some(msgs_read) = report {
            self.mailbox
                .send(Command::ActivateWrite { pipe, msgs_read });
        }
        Some(msg.iter().map(|f| f.to_vec()).collect())
    }

    /// The context is terminated: the socket gets a `Term` command (once).
    pub(crate) fn peer_terminate(&mut self) {
        if !self.term_sent {
            self.term_sent = true;
            self.mailbox.send(Command::Term);
        }
        self.maybe_spurious();
    }
}
