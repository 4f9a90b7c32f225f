//! `Remote`: a door into a loop for other threads.

use std::fmt;

use uzmq_core::Result;
use uzmq_uv::UvLoop;

use crate::Loop;

/// A door into a [`Loop`] for other threads: `Clone + Send + Sync`.
///
/// Made by [`Loop::remote`]. [`post`](Remote::post) runs a function on the
/// loop's thread, from the loop, and wakes a sleeping loop; what one thread
/// posts runs in the order it posted. Posted functions are work:
/// `run(RunMode::Default)` does not return before they ran. A `Remote`
/// keeps nothing alive by itself: once the loop is gone, `post` returns
/// `Err(Error::Closed)` and drops the function uncalled.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::thread;
/// use uzmq::{Loop, RunMode};
///
/// let lp = Loop::new()?;
/// let remote = lp.remote();
/// let sum = Arc::new(AtomicU32::new(0));
/// let s = sum.clone();
/// thread::spawn(move || {
///     for i in 1..=3 {
///         let s = s.clone();
///         // Runs on the loop's thread, with that loop as `lp`.
///         remote
///             .post(move |lp| {
///                 s.fetch_add(i, Ordering::Relaxed);
///                 let _now = lp.now();
///             })
///             .expect("the loop is alive");
///     }
/// })
/// .join()
/// .expect("producer");
/// // The posts are pending work: `run` returns once they ran.
/// lp.run(RunMode::Default)?;
/// assert_eq!(sum.load(Ordering::Relaxed), 6);
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone)]
pub struct Remote(pub(crate) uzmq_core::Remote<UvLoop>);

impl Remote {
    /// Runs `f` once, on the loop's thread, from the loop (never inside
    /// this call), waking the loop if it sleeps. What one thread posts runs
    /// in the order it posted. `Err(Error::Closed)` once the loop is gone
    /// (then `f` is dropped uncalled). A panic in `f` resumes from
    /// [`Loop::run`].
    pub fn post(&self, f: impl FnOnce(&Loop) + Send + 'static) -> Result<()> {
        self.0.post(move |lp| f(&Loop(lp.clone())))
    }

    /// Whether the loop is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
