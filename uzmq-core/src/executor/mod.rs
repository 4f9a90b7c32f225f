//! The loop's executor: tasks (`spawn_local`) polled from the loop's turn,
//! in the order they were woken, at most a read batch per iteration, like
//! any handle; and `block_on`.
//!
//! Tasks are `async-task` tasks. A task's schedule function routes a wake:
//! on the loop's thread it pushes the task on the run queue (`local.rs`:
//! a thread-local lookup, no lock, no system call); on any other thread
//! it goes through the loop's door, whose drain pushes it on the queue.
//!
//! The executor keeps every live task's `Task` handle. When the loop goes,
//! it drops them, which cancels the tasks: async-task then schedules each
//! idle one a last time so that its future is dropped, which happens here,
//! on the loop's thread (a `!Send` future must never be dropped elsewhere).

mod block_on;
mod local;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_task::{Runnable, Task};

pub(crate) use block_on::block_on;

use crate::event_loop::{LoopHandle, WeakLoop};
use crate::remote::{Door, Work};
use crate::{DEFAULT_READ_BATCH, Reactor};

/// Executor ids, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A loop's executor: its run queue and its live tasks.
pub(crate) struct Executor<R: Reactor> {
    id: u64,
    me: Weak<Executor<R>>,
    lp: WeakLoop<R>,
    scheduled: Cell<bool>,
    queue: RefCell<VecDeque<Runnable>>,
    /// Live tasks' handles, by slot; `None` slots are free.
    tasks: RefCell<Vec<Option<Task<()>>>>,
    free: RefCell<Vec<usize>>,
    /// Slots of tasks that completed, to free after the poll that ended them.
    finished: RefCell<Vec<usize>>,
}

impl<R: Reactor> Executor<R> {
    pub(crate) fn new(lp: WeakLoop<R>) -> Rc<Executor<R>> {
        let exec = Rc::new_cyclic(|me| Executor {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            me: me.clone(),
            lp,
            scheduled: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            finished: RefCell::new(Vec::new()),
        });
        let queue: Weak<dyn local::RunQueue> = exec.me.clone();
        local::register(exec.id, queue);
        exec
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Spawns `fut`; it is first polled from the loop's next turn.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + 'static, door: Arc<Door<R>>) {
        let slot = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut tasks = self.tasks.borrow_mut();
            tasks.push(None);
            tasks.len() - 1
        });
        let me = self.me.clone();
        let fut = async move {
            fut.await;
            if let Some(exec) = me.upgrade() {
                exec.finished.borrow_mut().push(slot);
            }
        };
        let id = self.id;
        let schedule = move |runnable: Runnable| {
            if let Some(runnable) = local::push(id, runnable) {
                wake_from_afar(&door, runnable);
            }
        };
        let (runnable, task) = async_task::spawn_local(fut, schedule);
        self.tasks.borrow_mut()[slot] = Some(task);
        runnable.schedule();
    }

    /// A task woken on another thread arrived through the door.
    pub(crate) fn arrived(&self, runnable: Runnable) {
        self.push_local(runnable);
    }

    fn push_local(&self, runnable: Runnable) {
        self.queue.borrow_mut().push_back(runnable);
        self.schedule();
    }

    fn schedule(&self) {
        if self.scheduled.get() {
            return;
        }
        if let (Some(lp), Some(me)) = (self.lp.upgrade(), self.me.upgrade()) {
            lp.schedule(me);
        }
    }

    /// Whether a task waits to be polled.
    pub(crate) fn has_ready(&self) -> bool {
        !self.queue.borrow().is_empty()
    }

    /// Polls the woken tasks, oldest first, at most a read batch's worth
    /// (the rest next iteration); frees the slots of those that completed.
    fn run_batch(&self) {
        /// Queues the executor again while tasks are left, also on unwind
        /// (a task that panicked), and frees finished slots.
        struct Again<'a, R: Reactor>(&'a Executor<R>);
        impl<R: Reactor> Drop for Again<'_, R> {
            fn drop(&mut self) {
                self.0.reap();
                if self.0.has_ready() {
                    self.0.schedule();
                }
            }
        }
        let _again = Again(self);
        let run = || {
            for _ in 0..DEFAULT_READ_BATCH {
                let Some(runnable) = self.queue.borrow_mut().pop_front() else {
                    break;
                };
                runnable.run();
            }
        };
        // The looks the tasks' socket calls ask for wait for the batch's
        // end (see `deferred_looks`).
        match self.lp.upgrade() {
            Some(lp) => lp.batch(run),
            None => run(),
        }
    }

    /// Frees the slots of completed tasks (their `Task` handles hold
    /// nothing but the `()` output).
    fn reap(&self) {
        let finished = std::mem::take(&mut *self.finished.borrow_mut());
        for slot in finished {
            let task = self.tasks.borrow_mut()[slot].take();
            drop(task);
            self.free.borrow_mut().push(slot);
        }
    }

    /// The loop is going: cancels every task and drops its future here.
    pub(crate) fn shut_down(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        // Each drop cancels its task; an idle one is scheduled a last time,
        // onto our queue (this thread), for its future to be dropped below.
        drop(tasks);
        loop {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(runnable) => drop(runnable),
                None => break,
            }
        }
        local::unregister(self.id);
    }
}

impl<R: Reactor> local::RunQueue for Executor<R> {
    fn push(&self, runnable: Runnable) {
        self.push_local(runnable);
    }
}

impl<R: Reactor> LoopHandle for Executor<R> {
    fn scheduled(&self) -> &Cell<bool> {
        &self.scheduled
    }

    fn on_turn(self: Rc<Self>) {
        self.run_batch();
    }

    fn loop_gone(&self) {}
}

impl<R: Reactor> Drop for Executor<R> {
    fn drop(&mut self) {
        local::unregister(self.id);
    }
}

/// A task woken on another thread: through the door. When the loop is
/// gone (a wake racing with its drop), the task is leaked rather than
/// dropped here: its future is `!Send` and must not be dropped off its
/// thread (async-task would panic). The executor cancelled every task it
/// knew before the door closed, so only a wake already under way then can
/// get here.
fn wake_from_afar<R: Reactor>(door: &Door<R>, runnable: Runnable) {
    match door.push(Work::Task(runnable)) {
        Ok(()) => {}
        Err(Work::Task(runnable)) => std::mem::forget(runnable),
        Err(other) => drop(other),
    }
}
