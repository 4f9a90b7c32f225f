//! `block_on`: runs the loop until one future completes, polling that
//! future on the caller's stack whenever its waker was called.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use super::local;
use crate::remote::{Door, Work};
use crate::{Error, EventLoop, Reactor, Result, RunMode};

/// The waker of a `block_on` future: a flag the loop checks after each
/// iteration; from another thread it also wakes the loop.
struct Signal<R: Reactor> {
    woken: AtomicBool,
    executor: u64,
    door: Arc<Door<R>>,
}

impl<R: Reactor> Wake for Signal<R> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: what the waker's caller wrote is seen by the poll that
        // follows the loop's Acquire swap.
        self.woken.store(true, Ordering::Release);
        // On the loop's thread the flag is enough: the iteration under
        // way ends, `run(Once)` returns and the flag is seen. From another
        // thread the loop may sleep: wake it.
        if !local::is_local(self.executor) {
            let _ = self.door.push(Work::Nudge);
        }
    }
}

/// Runs `lp` until `fut` completes. `Err(Reentrant)` from inside a callback
/// or task of `lp` (or from `fut` itself).
pub(crate) fn block_on<R: Reactor, F: Future>(lp: &EventLoop<R>, fut: F) -> Result<F::Output> {
    if lp.is_running() {
        return Err(Error::Reentrant);
    }
    let executor = lp.executor();
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(true),
        executor: executor.id(),
        door: lp.door(),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    // The loop waits for this future even when nothing of the loop is
    // active: it may be woken from another thread.
    let _hold = lp.hold_while();
    loop {
        if signal.woken.swap(false, Ordering::Acquire) {
            let polled = lp.while_running(|| lp.batch(|| fut.as_mut().poll(&mut cx)))?;
            if let Poll::Ready(out) = polled {
                return Ok(out);
            }
            continue;
        }
        lp.run(RunMode::Once)?;
    }
}
