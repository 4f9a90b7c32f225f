//! The mock's fake file descriptors: a per-thread table from fd number to
//! the level of its signal, so [`super::MockReactor`] can see which watched
//! fds are readable without touching the sockets behind them.
//!
//! Numbers come from a per-thread counter starting at [`FIRST_FD`] and are
//! never reused, so a stale fd can never alias a newer socket.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::RawFd;

/// The first fake fd number handed out on a thread.
pub const FIRST_FD: RawFd = 1000;

/// The readable level of one fake fd, shared by its owner and the table.
pub(crate) type Level = Rc<Cell<bool>>;

struct Table {
    next: RawFd,
    levels: HashMap<RawFd, Level>,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table {
        next: FIRST_FD,
        levels: HashMap::new(),
    });
}

thread_local! {
    /// Loop iterations begun on this thread, by any mock loop: sockets use
    /// it to count their operations per iteration.
    static ITERATION: Cell<u64> = const { Cell::new(0) };
}

/// A mock loop begins an iteration.
pub(crate) fn next_iteration() {
    ITERATION.with(|i| i.set(i.get() + 1));
}

/// The number of the iteration under way on this thread.
pub(crate) fn iteration() -> u64 {
    ITERATION.with(Cell::get)
}

/// Registers `level` under a fresh fd number.
pub(crate) fn register(level: Level) -> RawFd {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let fd = t.next;
        t.next = t.next.checked_add(1).expect("fake fd numbers exhausted");
        t.levels.insert(fd, level);
        fd
    })
}

/// Forgets `fd` (its socket was dropped: the fd is closed).
pub(crate) fn unregister(fd: RawFd) {
    // `try_with`: a socket dropped during thread teardown must not panic.
    let _ = TABLE.try_with(|t| t.borrow_mut().levels.remove(&fd));
}

/// Whether `fd` is open on this thread.
pub fn is_open(fd: RawFd) -> bool {
    TABLE.with(|t| t.borrow().levels.contains_key(&fd))
}

/// Whether `fd` is readable now: `Some(level)` for an open fd, `None` for
/// one never opened or already closed.
pub fn is_readable(fd: RawFd) -> Option<bool> {
    TABLE.with(|t| t.borrow().levels.get(&fd).map(|l| l.get()))
}

/// A fake fd with no socket behind it, whose level the test sets by hand:
/// for driving [`super::MockReactor`] watches directly. Dropping it closes
/// the fd.
#[derive(Debug)]
pub struct FakeFd {
    fd: RawFd,
    level: Level,
}

impl FakeFd {
    /// A fresh open fd, not readable.
    pub fn new() -> Self {
        let level = Level::default();
        let fd = register(level.clone());
        FakeFd { fd, level }
    }

    /// Its number, for [`crate::Reactor::watch`].
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Sets whether it is readable (level-triggered: it stays so until reset).
    pub fn set_readable(&self, readable: bool) {
        self.level.set(readable);
    }

    /// Whether it is readable.
    pub fn is_readable(&self) -> bool {
        self.level.get()
    }
}

impl Default for FakeFd {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FakeFd {
    fn drop(&mut self) {
        unregister(self.fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds_are_fresh_and_levels_shared() {
        let a = FakeFd::new();
        let b = FakeFd::new();
        assert!(a.fd() >= FIRST_FD);
        assert!(b.fd() > a.fd());
        assert_eq!(is_readable(a.fd()), Some(false));
        a.set_readable(true);
        assert_eq!(is_readable(a.fd()), Some(true));
        assert_eq!(is_readable(b.fd()), Some(false));
        let fd = a.fd();
        drop(a);
        assert!(!is_open(fd));
        assert_eq!(is_readable(fd), None);
        let c = FakeFd::new();
        assert_ne!(c.fd(), fd, "fd numbers are never reused");
    }
}
