//! Which executors live on the current thread: a wake on a loop's own
//! thread goes straight into that loop's run queue (no lock, no system
//! call); any other thread's wake goes through the loop's door.

use std::cell::RefCell;
use std::rc::Weak;

use async_task::Runnable;

/// An executor's run queue, as the thread it lives on sees it.
pub(crate) trait RunQueue {
    /// Queues a task to be polled from the loop's next turn.
    fn push(&self, runnable: Runnable);
}

thread_local! {
    /// The executors of this thread's loops, by id (few: one per loop).
    static EXECUTORS: RefCell<Vec<(u64, Weak<dyn RunQueue>)>> = const { RefCell::new(Vec::new()) };
}

/// Makes executor `id` reachable from wakes on this thread.
pub(crate) fn register(id: u64, queue: Weak<dyn RunQueue>) {
    EXECUTORS.with(|all| all.borrow_mut().push((id, queue)));
}

/// Forgets executor `id` (its loop is going).
pub(crate) fn unregister(id: u64) {
    // During thread exit the registry may be gone already: nothing to forget.
    let _ = EXECUTORS.try_with(|all| all.borrow_mut().retain(|(other, _)| *other != id));
}

/// Whether executor `id` lives on this thread.
pub(crate) fn is_local(id: u64) -> bool {
    find(id).is_some()
}

/// Queues `runnable` on executor `id` if it lives on this thread; hands it
/// back otherwise.
pub(crate) fn push(id: u64, runnable: Runnable) -> Option<Runnable> {
    match find(id) {
        Some(queue) => {
            queue.push(runnable);
            None
        }
        None => Some(runnable),
    }
}

fn find(id: u64) -> Option<std::rc::Rc<dyn RunQueue>> {
    EXECUTORS
        .try_with(|all| {
            all.borrow()
                .iter()
                .find(|(other, _)| *other == id)
                .and_then(|(_, queue)| queue.upgrade())
        })
        .ok()
        .flatten()
}
