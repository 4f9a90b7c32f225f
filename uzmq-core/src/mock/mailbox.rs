//! The socket's command mailbox and its fd signal, as libzmq's `mailbox_t`
//! over a `ypipe_t` of commands and a `signaler_t` (the `ZMQ_FD`).

use std::collections::VecDeque;

use super::fd_table::Level;

/// A command one libzmq object posts to a socket's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `activate_read`: the inbound pipe's writer found the reader asleep
    /// and wrote to it; the pipe is readable again.
    ActivateRead,
    /// `activate_write(msgs_read)` from the reader of outbound pipe `pipe`:
    /// it has read this many messages (sent every low-water-mark reads).
    ActivateWrite {
        /// Which outbound pipe (always 0 but for a ROUTER).
        pipe: usize,
        /// The reader's count of messages read.
        msgs_read: u64,
    },
    /// The context was terminated (libzmq's `stop` command to each socket).
    Term,
}

/// A command queue, the mailbox's `active` flag, whether the command pipe's
/// reader is asleep, and the signal (the fd's readable level).
#[derive(Debug)]
pub(crate) struct Mailbox {
    queue: VecDeque<Command>,
    /// `mailbox_t::_active`: commands are being drained without waiting for
    /// the signal.
    active: bool,
    /// The command ypipe's reader found it empty (`_c` is NULL): the next
    /// command's writer must raise the signal.
    reader_asleep: bool,
    /// The fd level, shared with the fd table.
    signal: Level,
}

impl Mailbox {
    /// libzmq's `mailbox_t` constructor puts the pipe in passive state
    /// (`_cpipe.check_read()` fails, `_active = false`), so the very first
    /// command raises the signal.
    pub(crate) fn new(signal: Level) -> Self {
        signal.set(false);
        Mailbox {
            queue: VecDeque::new(),
            active: false,
            reader_asleep: true,
            signal,
        }
    }

    /// `mailbox_t::send`: queue the command; only a command arriving at a
    /// passive mailbox (reader asleep) raises the signal: the fd's edge.
    pub(crate) fn send(&mut self, cmd: Command) {
        self.queue.push_back(cmd);
        if self.reader_asleep {
            self.reader_asleep = false;
            self.signal.set(true);
        }
    }

    /// A signal with no command behind it: the fd is readable and
    /// `ZMQ_EVENTS` will show nothing new (valid, and must be ignored).
    pub(crate) fn raise_spurious(&mut self) {
        self.signal.set(true);
    }

    /// `mailbox_t::recv` with timeout 0: the next command, or `None`, which
    /// leaves the mailbox passive (reader asleep, signal consumed).
    pub(crate) fn next(&mut self) -> Option<Command> {
        if self.active {
            if let Some(cmd) = self.queue.pop_front() {
                return Some(cmd);
            }
            // The ypipe read failed: its reader goes to sleep.
            self.active = false;
            self.reader_asleep = true;
        }
        if !self.signal.get() {
            return None;
        }
        // `signaler_t::recv`: reading the fd consumes its level.
        self.signal.set(false);
        self.active = true;
        match self.queue.pop_front() {
            Some(cmd) => Some(cmd),
            // A spurious signal: libzmq asserts a command is there; the mock
            // lets it happen to test that readers cope, and goes passive.
            None => {
                self.active = false;
                self.reader_asleep = true;
                None
            }
        }
    }

    /// Whether the fd is readable.
    pub(crate) fn is_signalled(&self) -> bool {
        self.signal.get()
    }

    /// Whether `process_commands` would process the queued commands now
    /// (without side effects): only with the signal raised or mid-drain.
    pub(crate) fn would_process(&self) -> bool {
        self.active || self.signal.get()
    }

    /// The commands queued and not processed yet.
    pub(crate) fn queued(&self) -> impl Iterator<Item = Command> + '_ {
        self.queue.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_command_to_a_passive_mailbox_raises_the_signal() {
        let mut mb = Mailbox::new(Level::default());
        assert!(!mb.is_signalled());
        mb.send(Command::ActivateRead);
        assert!(mb.is_signalled());
        mb.send(Command::Term);
        assert!(mb.is_signalled());
        assert_eq!(mb.next(), Some(Command::ActivateRead));
        // The signal was consumed by the first receive, though a command waits.
        assert!(!mb.is_signalled());
        // A command now arrives at an active mailbox: no new edge.
        mb.send(Command::ActivateWrite {
            pipe: 0,
            msgs_read: 3,
        });
        assert!(!mb.is_signalled());
        assert_eq!(mb.next(), Some(Command::Term));
        assert_eq!(
            mb.next(),
            Some(Command::ActivateWrite {
                pipe: 0,
                msgs_read: 3
            })
        );
        assert_eq!(mb.next(), None);
        // Drained: passive again, so the next command is an edge.
        mb.send(Command::ActivateRead);
        assert!(mb.is_signalled());
    }

    #[test]
    fn a_spurious_signal_yields_nothing_and_is_consumed() {
        let mut mb = Mailbox::new(Level::default());
        mb.raise_spurious();
        assert!(mb.is_signalled());
        assert_eq!(mb.next(), None);
        assert!(!mb.is_signalled());
        mb.send(Command::ActivateRead);
        assert!(mb.is_signalled());
    }
}
