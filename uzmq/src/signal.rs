//! `Signal`: a libuv signal handle whose callback gets the handle and the
//! signal number.

use ref_cast::{RefCastCustom, ref_cast_custom};
use uzmq_core::{Result, SignalHandle};
use uzmq_uv::UvLoop;

use crate::Loop;

/// A watch of one process signal on the loop (`uv_signal_t`). Cloning
/// makes another reference.
///
/// The callback runs from the loop, never from the signal handler, so it
/// may do anything a callback may (close handles, shut a [`Zmq`](crate::Zmq)
/// down, stop the loop). While started the handle is active and keeps
/// [`Loop::run`] going; stop or close it and `run(RunMode::Default)` can
/// return.
///
/// The signal handler is process-wide: while any handle (on any loop, any
/// thread) watches a signal, libuv's handler is installed for it, and every
/// watching handle gets each arrival. When the last one stops or closes,
/// the default disposition is back (for SIGINT: the process ends), and a
/// handler other code had installed before is not restored. A signal that
/// arrives while no handle watches it takes that disposition.
///
/// A graceful stop on Ctrl-C:
///
/// ```no_run
/// use uzmq::{Loop, RunMode, Signal};
///
/// const SIGINT: i32 = 2;
/// let lp = Loop::new()?;
/// let sigint = Signal::new(&lp)?;
/// sigint.start_oneshot(SIGINT, |s, _signum| {
///     // Shut the handles down here, then let the loop end.
///     s.close();
/// })?;
/// lp.run(RunMode::Default)?; // returns after Ctrl-C
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct Signal(SignalHandle<UvLoop>);

impl Signal {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &SignalHandle<UvLoop>) -> &Self;
}

impl Signal {
    /// A stopped signal handle on `lp`.
    pub fn new(lp: &Loop) -> Result<Signal> {
        Ok(Signal(SignalHandle::new(&lp.0)?))
    }

    /// Calls `cb` from the loop, with the signal number, each time
    /// `signum` arrives. Restarts a started handle with the new signal and
    /// callback. A number libuv refuses (0, out of range, SIGKILL,
    /// SIGSTOP) is `Err(Error::Uv { name: "EINVAL", .. })` and leaves the
    /// handle as it was; `Err(Error::Closed)` once closed.
    pub fn start(&self, signum: i32, mut cb: impl FnMut(&Signal, i32) + 'static) -> Result<()> {
        self.0
            .start(signum, move |h, signum| cb(Signal::wrap(h), signum))
    }

    /// As [`start`](Signal::start), for the first arrival only: the handle
    /// stops just before `cb` runs (`cb` may start it again). The
    /// process-wide handler stays installed until then, so a second signal
    /// arriving before the loop delivered the first is not lost to the
    /// default disposition.
    pub fn start_oneshot(
        &self,
        signum: i32,
        cb: impl FnOnce(&Signal, i32) + 'static,
    ) -> Result<()> {
        self.0
            .start_oneshot(signum, move |h, signum| cb(Signal::wrap(h), signum))
    }

    /// Stops watching: a signal arriving from now on is not reported.
    /// `Err(Error::Closed)` once closed.
    pub fn stop(&self) -> Result<()> {
        self.0.stop()
    }

    /// Closes the handle; its callback is dropped.
    pub fn close(&self) {
        self.0.close()
    }

    /// Closes the handle; `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Signal) + 'static) {
        self.0.close_with(move |h| cb(Signal::wrap(h)))
    }

    /// The signal watched while started; `None` when stopped or closed.
    pub fn signum(&self) -> Option<i32> {
        self.0.signum()
    }

    /// Started and not closed.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// The loop, or `Err(Error::Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }
}
