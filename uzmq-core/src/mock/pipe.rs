//! The two data pipes between the socket and its peer, as libzmq's
//! `pipe_t` over a `ypipe_t`: visibility, sleeping readers and the
//! high-water-mark accounting that only commands update.

use std::collections::VecDeque;

use super::mailbox::Command;

/// Frames of one whole message.
pub(crate) type Frames = Vec<zmq::Message>;

/// `pipe_t::compute_lwm`: half the HWM, or HWM - 1024 for large ones. A
/// reader sends `activate_write` every LWM messages read; 0 means never.
pub(crate) fn compute_lwm(hwm: usize) -> u64 {
    const MAX_WM_DELTA: usize = 1024;
    let lwm = if hwm > MAX_WM_DELTA * 2 {
        hwm - MAX_WM_DELTA
    } else {
        hwm.div_ceil(2)
    };
    lwm as u64
}

/// Peer -> socket: whole messages the peer delivered, as the socket's
/// reader end sees them.
#[derive(Debug)]
pub(crate) struct InPipe {
    msgs: VecDeque<Frames>,
    /// `pipe_t::_in_active`. While false, messages already in the pipe are
    /// invisible: only the `activate_read` command makes them visible.
    active: bool,
    /// The ypipe reader found the pipe empty and went to sleep (`_c` NULL):
    /// the writer's next flush fails its CAS and sends `activate_read`.
    asleep: bool,
    /// The frames still to hand over of the message being received.
    current: VecDeque<zmq::Message>,
    /// RCVHWM (0: no limit).
    hwm: usize,
}

impl InPipe {
    /// A fresh libzmq pipe: `_in_active(true)`, and the ypipe's `_c` points
    /// at the queue (reader awake). So the first messages into a fresh pipe
    /// are visible at once and send no command: no fd edge at all.
    pub(crate) fn new(hwm: usize) -> Self {
        InPipe {
            msgs: VecDeque::new(),
            active: true,
            asleep: false,
            current: VecDeque::new(),
            hwm,
        }
    }

    /// Peer side: `pipe_t::write` + `flush` (the caller checked
    /// [`InPipe::is_full`]). `Some(ActivateRead)` when the flush found the
    /// reader asleep: the only time the writer signals the reader.
    pub(crate) fn deliver(&mut self, msg: Frames) -> Option<Command> {
        self.msgs.push_back(msg);
        if self.asleep {
            self.asleep = false;
            return Some(Command::ActivateRead);
        }
        None
    }

    /// Whether the pipe is at RCVHWM (the peer cannot deliver).
    pub(crate) fn is_full(&self) -> bool {
        self.hwm > 0 && self.msgs.len() >= self.hwm
    }

    /// `pipe_t::check_read`: an inactive pipe reports nothing (and stays as
    /// it is); an active one found empty goes inactive and its reader sleeps.
    pub(crate) fn check_read(&mut self) -> bool {
        if !self.active {
            return false;
        }
        if self.msgs.is_empty() {
            self.active = false;
            self.asleep = true;
            return false;
        }
        true
    }

    /// `pipe_t::read` of the first frame of the next message.
    pub(crate) fn read(&mut self) -> Option<Frames> {
        if self.check_read() {
            self.msgs.pop_front()
        } else {
            None
        }
    }

    /// `process_activate_read`.
    pub(crate) fn activate(&mut self) {
        self.active = true;
    }

    /// Whether a message was started and not fully handed over (libzmq's
    /// `fq_t::_more`: then the socket is readable without any pipe check).
    pub(crate) fn mid_message(&self) -> bool {
        !self.current.is_empty()
    }

    /// The next frame of the message being received, and whether more follow.
    pub(crate) fn next_frame(&mut self) -> Option<(zmq::Message, bool)> {
        let frame = self.current.pop_front()?;
        Some((frame, !self.current.is_empty()))
    }

    /// Starts handing over `msg` frame by frame.
    pub(crate) fn begin(&mut self, msg: Frames) {
        self.current = msg.into();
    }

    /// Messages not fully received by the socket, visible or not.
    pub(crate) fn pending(&self) -> usize {
        self.msgs.len() + usize::from(self.mid_message())
    }

    /// What `check_read` would answer after `activate_read` commands
    /// (`activated`) are processed, without side effects.
    pub(crate) fn would_read(&self, activated: bool) -> bool {
        (self.active || activated) && !self.msgs.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    #[cfg(test)]
    pub(crate) fn is_asleep(&self) -> bool {
        self.asleep
    }
}

/// Socket -> peer: what the socket's writer end knows and the messages the
/// peer has not read yet.
#[derive(Debug)]
pub(crate) struct OutPipe {
    msgs: VecDeque<Frames>,
    /// Frames of a message being sent (libzmq flushes on the last frame).
    partial: Frames,
    /// A PUB dropping the rest of a message whose first frame it dropped.
    dropping: bool,
    msgs_written: u64,
    /// What the writer knows the peer read: updated only by `activate_write`.
    peers_msgs_read: u64,
    /// `pipe_t::_out_active`: false once a write found the pipe full, until
    /// `activate_write` arrives.
    active: bool,
    /// SNDHWM (0: no limit).
    hwm: usize,
    lwm: u64,
    /// What the peer really read.
    peer_reads: u64,
}

impl OutPipe {
    /// A fresh pipe: `_out_active(true)`, nothing written.
    pub(crate) fn new(hwm: usize) -> Self {
        OutPipe {
            msgs: VecDeque::new(),
            partial: Vec::new(),
            dropping: false,
            msgs_written: 0,
            peers_msgs_read: 0,
            active: true,
            hwm,
            lwm: compute_lwm(hwm),
            peer_reads: 0,
        }
    }

    fn full_at(&self, peers_msgs_read: u64) -> bool {
        self.hwm > 0 && self.msgs_written - peers_msgs_read >= self.hwm as u64
    }

    /// `pipe_t::check_write`: an inactive pipe stays so; a full one becomes
    /// inactive (and only `activate_write` revives it).
    pub(crate) fn check_write(&mut self) -> bool {
        if !self.active {
            return false;
        }
        if self.full_at(self.peers_msgs_read) {
            self.active = false;
            return false;
        }
        true
    }

    /// Whether a message was started (libzmq's `lb_t::_more`: its later
    /// frames are always accepted, and the socket shows POLLOUT).
    pub(crate) fn mid_message(&self) -> bool {
        !self.partial.is_empty() || self.dropping
    }

    /// Whether the current message is being dropped (PUB at HWM).
    pub(crate) fn is_dropping(&self) -> bool {
        self.dropping
    }

    /// Sets whether the rest of the current message is dropped.
    pub(crate) fn set_dropping(&mut self, dropping: bool) {
        self.dropping = dropping;
    }

    /// Writes one frame; on the last one the whole message becomes visible
    /// to the peer and counts toward the HWM. Returns whether it was last.
    pub(crate) fn write(&mut self, frame: zmq::Message, more: bool) -> bool {
        self.partial.push(frame);
        if more {
            return false;
        }
        self.msgs.push_back(std::mem::take(&mut self.partial));
        self.msgs_written += 1;
        true
    }

    /// `process_activate_write`.
    pub(crate) fn activate_write(&mut self, msgs_read: u64) {
        self.peers_msgs_read = msgs_read;
        self.active = true;
    }

    /// Peer side: `pipe_t::read`. Every LWM messages the reader tells the
    /// writer how many it read (`send_activate_write`): the count to send
    /// comes back with the message.
    pub(crate) fn peer_read(&mut self) -> Option<(Frames, Option<u64>)> {
        let msg = self.msgs.pop_front()?;
        self.peer_reads += 1;
        let report = (self.lwm > 0 && self.peer_reads % self.lwm == 0).then_some(self.peer_reads);
        Some((msg, report))
    }

    /// `pipe_t::check_hwm`: room below the HWM as far as the writer knows,
    /// with no side effect (a ROUTER's POLLOUT asks this of every pipe).
    pub(crate) fn has_room(&self) -> bool {
        !self.full_at(self.peers_msgs_read)
    }

    /// What [`has_room`](Self::has_room) would answer after pending
    /// `activate_write` commands (the last count in `activated`).
    pub(crate) fn would_have_room(&self, activated: Option<u64>) -> bool {
        !self.full_at(activated.unwrap_or(self.peers_msgs_read))
    }

    /// Whole messages the peer has not read.
    pub(crate) fn pending(&self) -> usize {
        self.msgs.len()
    }

    /// What `check_write` would answer after pending `activate_write`
    /// commands (the last count in `activated`) are processed, without side
    /// effects.
    pub(crate) fn would_write(&self, activated: Option<u64>) -> bool {
        match activated {
            Some(read) => !self.full_at(read),
            None => self.active && !self.full_at(self.peers_msgs_read),
        }
    }

    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lwm_follows_libzmq() {
        assert_eq!(compute_lwm(0), 0);
        assert_eq!(compute_lwm(1), 1);
        assert_eq!(compute_lwm(2), 1);
        assert_eq!(compute_lwm(3), 2);
        assert_eq!(compute_lwm(1000), 500);
        assert_eq!(compute_lwm(2048), 1024);
        assert_eq!(compute_lwm(5000), 5000 - 1024);
    }

    #[test]
    fn inactive_check_read_keeps_the_reader_awake() {
        let mut p = InPipe::new(0);
        assert!(!p.check_read());
        assert!(!p.is_active() && p.is_asleep());
        assert_eq!(
            p.deliver(vec![zmq::Message::new()]),
            Some(Command::ActivateRead)
        );
        // Command in flight: the pipe is invisible but its reader awake, so
        // a second delivery sends no second command.
        assert!(!p.check_read());
        assert!(!p.is_asleep());
        assert_eq!(p.deliver(vec![zmq::Message::new()]), None);
        p.activate();
        assert!(p.read().is_some() && p.read().is_some());
        assert!(p.read().is_none());
        assert!(p.is_asleep());
    }
}
