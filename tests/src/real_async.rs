//! Helpers of the async/await tests on the real backends: a mailbox that
//! other threads fill (each push wakes the awaiting task from the pushing
//! thread), a counter on the loop's thread that callbacks bump and tasks
//! await, and a poll of a future exactly once.
//!
//! They are written with `std` only, so that what they exercise is the
//! loop's executor and wakers, not another crate's.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A queue other threads push into; [`next`](Mailbox::next) awaits its
/// next item. The pusher calls the waker itself, on its own thread: a
/// cross-thread wake of a loop's task or `block_on`.
pub struct Mailbox<T>(Arc<Mutex<MailboxState<T>>>);

struct MailboxState<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox(self.0.clone())
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox(Arc::new(Mutex::new(MailboxState {
            items: VecDeque::new(),
            waker: None,
        })))
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Mailbox<T> {
        Mailbox::default()
    }

    /// Adds `item` and wakes the task awaiting it, here, on this thread.
    pub fn push(&self, item: T) {
        let waker = {
            let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
            st.items.push_back(item);
            st.waker.take()
        };
        // Woken with the lock released: the waker may run the loop's code.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next item, in push order.
    pub fn next(&self) -> impl Future<Output = T> + '_ {
        poll_fn(move |cx| {
            let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match st.items.pop_front() {
                Some(item) => Poll::Ready(item),
                None => {
                    st.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}

/// A count on the loop's thread: callbacks and tasks [`add`](Counter::add)
/// to it, a task awaits a value with [`reach`](Counter::reach).
#[derive(Clone, Default)]
pub struct Counter(Rc<CounterState>);

#[derive(Default)]
struct CounterState {
    count: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Counter {
    /// A counter at 0.
    pub fn new() -> Counter {
        Counter::default()
    }

    /// Adds one and wakes every waiting task.
    pub fn add(&self) {
        self.0.count.set(self.0.count.get() + 1);
        let waiters = std::mem::take(&mut *self.0.waiters.borrow_mut());
        // Woken after the borrow: never hold it across the waker's code.
        for waker in waiters {
            waker.wake();
        }
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.count.get()
    }

    /// Resolves once the count is at least `n`.
    pub fn reach(&self, n: u64) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            if self.0.count.get() >= n {
                return Poll::Ready(());
            }
            self.0.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// Polls `fut` exactly once with the calling task's context; its result,
/// or `Pending` (then `fut` may be polled again, or dropped).
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}
