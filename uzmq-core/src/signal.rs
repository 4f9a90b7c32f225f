//! The signal handle behind uzmq's `Signal`: a watch of one process signal
//! whose callback gets the handle and the signal number, with close
//! callbacks run from the loop and the loop's keep-alive rule (a started
//! handle keeps working without user clones).
//!
//! One-shot delivery is done here, not with `uv_signal_start_oneshot`:
//! libuv's one-shot flag stays set on the handle for later plain starts,
//! and its handler resets the disposition to the default on the first
//! signal, so a second signal arriving before the loop dispatched the
//! first would take the default action (for SIGINT, end the process).
//! Here the watch stays registered until the loop delivers the signal, and
//! is stopped just before the one-shot callback runs.

use std::rc::Rc;

use crate::callback_slot::{Lent, Slot};
use crate::event_loop::EventLoop;
use crate::handle_shell::{Kind, Shell};
use crate::{Error, RawSignal, Reactor, Result};

type SignalCb<R> = dyn FnMut(&SignalHandle<R>, i32);

/// What the watch is started for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Watching {
    Stopped,
    /// Every arrival of the signal calls back.
    Each(i32),
    /// The first arrival stops the handle, then calls back.
    Once(i32),
}

impl Watching {
    fn signum(self) -> Option<i32> {
        match self {
            Watching::Stopped => None,
            Watching::Each(signum) | Watching::Once(signum) => Some(signum),
        }
    }
}

struct State<R: Reactor> {
    watching: Watching,
    cb: Slot<SignalCb<R>>,
    /// The backend watch; `None` once closed.
    raw: Option<R::Signal>,
}

/// The signal kind: all its state is in [`State`].
struct SignalKind;

type Inner<R> = Shell<R, SignalKind>;

impl<R: Reactor> Kind<R> for SignalKind {
    type State = State<R>;
    type Handle = SignalHandle<R>;
    type Taken = (Option<Box<SignalCb<R>>>, Option<R::Signal>);

    fn handle(inner: Rc<Inner<R>>) -> SignalHandle<R> {
        SignalHandle { inner }
    }

    /// The backend watch is started. `close()` stopped it, so a closing
    /// handle is not active, as `uv_is_active` after `uv_close`.
    fn is_active(st: &State<R>) -> bool {
        st.raw.as_ref().is_some_and(|raw| raw.is_active())
    }

    fn close(st: &mut State<R>) -> Self::Taken {
        st.watching = Watching::Stopped;
        if let Some(raw) = st.raw.as_mut() {
            raw.stop();
        }
        (st.cb.clear(), None)
    }

    fn release(st: &mut State<R>) -> Self::Taken {
        (None, st.raw.take())
    }

    fn loop_gone(st: &mut State<R>) -> Self::Taken {
        st.watching = Watching::Stopped;
        (st.cb.clear(), st.raw.take())
    }
}

/// A signal watch on loop `R`. Cloning makes another reference to the
/// same handle.
pub struct SignalHandle<R: Reactor> {
    inner: Rc<Inner<R>>,
}

impl<R: Reactor> Clone for SignalHandle<R> {
    fn clone(&self) -> Self {
        SignalHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Reactor> std::fmt::Debug for SignalHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalHandle")
            .field("signum", &self.signum())
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<R: Reactor> SignalHandle<R> {
    /// A stopped signal handle.
    pub fn new(lp: &EventLoop<R>) -> Result<Self> {
        let inner = Shell::new(
            lp,
            SignalKind,
            State {
                watching: Watching::Stopped,
                cb: Slot::default(),
                raw: None,
            },
        );
        let raw = lp.reactor().signal(inner.loop_callback(deliver))?;
        inner.st.borrow_mut().raw = Some(raw);
        inner.register();
        Ok(SignalHandle { inner })
    }

    /// Calls `cb` from the loop each time `signum` arrives; restarts a
    /// started handle with the new signal and callback. An invalid signal
    /// number is the backend's error, and the handle is left as it was.
    pub fn start(&self, signum: i32, cb: impl FnMut(&Self, i32) + 'static) -> Result<()> {
        self.start_watching(Watching::Each(signum), Box::new(cb))
    }

    /// As [`start`](Self::start), for the first arrival only: the handle
    /// stops just before `cb` runs (so `cb` may start it again).
    pub fn start_oneshot(&self, signum: i32, cb: impl FnOnce(&Self, i32) + 'static) -> Result<()> {
        let mut cb = Some(cb);
        self.start_watching(
            Watching::Once(signum),
            Box::new(move |h, signum| {
                if let Some(cb) = cb.take() {
                    cb(h, signum);
                }
            }),
        )
    }

    /// Stops watching: a signal arriving from now on is not reported.
    /// `Err(Closed)` once closed.
    pub fn stop(&self) -> Result<()> {
        {
            let mut st = self.inner.open_mut()?;
            let st = &mut *st;
            match st.raw.as_mut() {
                Some(raw) => raw.stop(),
                None => return Err(Error::Closed),
            }
            st.watching = Watching::Stopped;
        }
        SignalKind::settle(&self.inner);
        Ok(())
    }

    /// Closes the handle.
    pub fn close(&self) {
        self.inner.close(None);
    }

    /// Closes the handle; `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        self.inner.close(Some(Box::new(cb)));
    }

    /// The signal watched while started, `None` when stopped or closed
    /// (`close()` stops it).
    pub fn signum(&self) -> Option<i32> {
        self.inner.st.borrow().watching.signum()
    }

    /// Started and not closed.
    pub fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.event_loop()
    }

    fn start_watching(&self, watching: Watching, cb: Box<SignalCb<R>>) -> Result<()> {
        let outcome = {
            let mut st = self.inner.open_mut()?;
            let st = &mut *st;
            let raw = match (st.raw.as_mut(), watching.signum()) {
                (Some(raw), Some(signum)) => raw.start(signum).map(|()| raw),
                _ => return Err(Error::Closed),
            };
            match raw {
                Ok(_) => {
                    st.watching = watching;
                    Ok(st.cb.replace(cb))
                }
                Err(e) => {
                    // libuv stops a started watch before it tries the new
                    // signal: put the old one back, so that a refused start
                    // leaves the handle as it was. It was accepted before,
                    // so this succeeds; should it not, the handle is
                    // stopped, as `is_active` then tells.
                    if let (Some(previous), Some(raw)) = (st.watching.signum(), st.raw.as_mut()) {
                        if raw.start(previous).is_err() {
                            st.watching = Watching::Stopped;
                        }
                    }
                    Err((e, cb))
                }
            }
        };
        // User code (the callbacks) is dropped outside the borrow.
        let result = match outcome {
            Ok(old) => {
                drop(old);
                Ok(())
            }
            Err((e, cb)) => {
                drop(cb);
                Err(e)
            }
        };
        SignalKind::settle(&self.inner);
        result
    }
}

/// The backend saw the watched signal arrive.
fn deliver<R: Reactor>(inner: &Rc<Inner<R>>) {
    let (watching, once) = {
        let Ok(mut st) = inner.open_mut() else {
            return;
        };
        let st = &mut *st;
        match st.watching {
            Watching::Stopped => return,
            Watching::Each(_) => (st.watching, None),
            Watching::Once(_) => {
                // Stopped before the call: not active inside its
                // callback, which may start it again.
                if let Some(raw) = st.raw.as_mut() {
                    raw.stop();
                }
                let watching = std::mem::replace(&mut st.watching, Watching::Stopped);
                (watching, Some(st.cb.clear()))
            }
        }
    };
    let Some(signum) = watching.signum() else {
        return;
    };
    let h = inner.handle();
    match once {
        Some(cb) => {
            if let Some(mut cb) = cb {
                cb(&h, signum);
            }
        }
        None => {
            if let Some(mut cb) = Lent::take(&inner.st, |st| &mut st.cb) {
                (cb.get())(&h, signum);
            }
        }
    }
    // A one-shot handle is inactive now: let the loop drop it.
    SignalKind::settle(inner);
}
