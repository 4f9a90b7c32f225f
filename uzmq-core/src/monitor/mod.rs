//! The monitor handle behind uzmq's `Monitor`: a socket's connection
//! events (`zmq_socket_monitor`) handed to a callback from the loop.
//!
//! Built on the stream handle: the events arrive on a PAIR socket that
//! libzmq's monitor binds at an `inproc://` endpoint unique in the process,
//! and the stream handle reads it with the same readiness rules as any
//! socket. What this kind adds is one state, `Monitoring`, and its
//! transitions: every event goes to the callback in order; `MonitorStopped`
//! (the monitored handle closed, or a newer monitor replaced this one) is
//! the last and closes the monitor; a receive error (ETERM) is reported
//! once and stops it; `close()` switches the monitored socket's monitoring
//! off (if this monitor is still the one in place) and stops callbacks at
//! once.
//!
//! libzmq sends monitor events with blocking sends from its own threads,
//! so the PAIR gets an unlimited receive high-water mark before it
//! connects (the facade's job), and monitoring is switched off whenever
//! the reader goes: when the monitored handle closes (its kind's `closed`
//! hook), when its socket is dropped, and when the monitor closes.

mod event;

pub use event::{EventKind, SocketEvent};

use std::cell::Cell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{EventLoop, PollHandle, Reactor, Result, Socket, StreamHandle};

/// A handle whose socket a monitor watches, held weakly by the monitor so
/// that monitoring never keeps the monitored handle alive.
pub(crate) trait Watched<S> {
    /// The monitored socket.
    fn watched_socket(&self) -> &S;
}

/// Where a monitor is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Monitoring {
    /// Events go to the callback.
    Watching,
    /// `MonitorStopped` came, the PAIR failed, or the user closed it: no
    /// more callbacks, and the socket's monitoring is off (or belongs to a
    /// newer monitor).
    Stopped,
}

/// What reaches the monitor: an event read from the PAIR, a receive
/// error (the error itself goes to the callback), or the user's `close()`.
enum Input {
    Event(SocketEvent),
    Failed,
    Close,
}

/// What a transition asks for, besides the new state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Effects {
    /// Hand the input to the callback.
    deliver: bool,
    /// Close the PAIR's stream handle.
    close_reader: bool,
    /// Switch the monitored socket's monitoring off, if this monitor is
    /// still the one in place.
    switch_off: bool,
}

/// The one transition table of a monitor.
fn step(state: Monitoring, input: &Input) -> (Monitoring, Effects) {
    let effects = |deliver, close_reader, switch_off| Effects {
        deliver,
        close_reader,
        switch_off,
    };
    match (state, input) {
        // The last event: libzmq stopped monitoring, nothing follows.
        (Monitoring::Watching, Input::Event(ev)) if ev.kind == EventKind::MonitorStopped => {
            (Monitoring::Stopped, effects(true, true, false))
        }
        (Monitoring::Watching, Input::Event(_)) => {
            (Monitoring::Watching, effects(true, false, false))
        }
        // The PAIR cannot be read (ETERM): reported once, and libzmq must
        // not be left sending to a reader that is gone.
        (Monitoring::Watching, Input::Failed) => (Monitoring::Stopped, effects(true, true, true)),
        (Monitoring::Watching, Input::Close) => (Monitoring::Stopped, effects(false, true, true)),
        // Stopped: the reader is closed, so nothing arrives; a second
        // close does nothing.
        (Monitoring::Stopped, Input::Event(_) | Input::Failed | Input::Close) => {
            (Monitoring::Stopped, effects(false, false, false))
        }
    }
}

/// What monitor and reader share: the state and the link to the monitored
/// socket.
struct Link<S: Socket> {
    state: Cell<Monitoring>,
    /// The `inproc://` endpoint of this monitor.
    endpoint: String,
    /// The monitored handle, weakly.
    target: Weak<dyn Watched<S>>,
}

impl<S: Socket> Link<S> {
    fn switch_off(&self) {
        if let Some(target) = self.target.upgrade() {
            target.watched_socket().stop_monitor(Some(&self.endpoint));
        }
    }
}

type MonitorCb<R, S> = dyn FnMut(&MonitorHandle<R, S>, Result<SocketEvent>);
/// The close callback handed to the reader.
type ReaderCloseCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>)>;

/// A monitor of a socket's events on loop `R`, reading them from a PAIR
/// socket `S`. Cloning makes another reference to the same handle.
pub struct MonitorHandle<R: Reactor, S: Socket> {
    reader: StreamHandle<R, S>,
    link: Rc<Link<S>>,
}

impl<R: Reactor, S: Socket> Clone for MonitorHandle<R, S> {
    fn clone(&self) -> Self {
        MonitorHandle {
            reader: self.reader.clone(),
            link: self.link.clone(),
        }
    }
}

impl<R: Reactor, S: Socket> std::fmt::Debug for MonitorHandle<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorHandle")
            .field("endpoint", &self.link.endpoint)
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish()
    }
}

static ENDPOINTS: AtomicU64 = AtomicU64::new(0);

/// A fresh monitor endpoint, unique in the process (and unlike any a user
/// would pick), so that monitors of any number of sockets never clash.
fn fresh_endpoint() -> String {
    let n = ENDPOINTS.fetch_add(1, Ordering::Relaxed);
    format!("inproc://uzmq.monitor.{}.{n}", std::process::id())
}

impl<R: Reactor, S: Socket> MonitorHandle<R, S> {
    /// Starts monitoring `target`'s socket. The order matters because
    /// libzmq's monitor sends block: `connect` makes the reading PAIR,
    /// connected (inproc allows connecting before the bind) to a fresh
    /// endpoint, and it is read on `lp` *before* `zmq_socket_monitor` binds
    /// that endpoint, so that libzmq never has a monitor without a reader.
    /// A refusal at any step leaves the socket's monitoring as it was.
    fn start(
        lp: &EventLoop<R>,
        target: Weak<dyn Watched<S>>,
        socket: &S,
        connect: impl FnOnce(&str) -> Result<S>,
        mut cb: impl FnMut(&Self, Result<SocketEvent>) + 'static,
    ) -> Result<Self> {
        let endpoint = fresh_endpoint();
        let reader = StreamHandle::new(lp, connect(&endpoint)?)?;
        let link = Rc::new(Link {
            state: Cell::new(Monitoring::Watching),
            endpoint,
            target,
        });
        let shared = link.clone();
        let started = reader.start_read(move |h, msg| {
            let me = MonitorHandle {
                reader: h.clone(),
                link: shared.clone(),
            };
            let (input, result) = match msg {
                Ok(frames) => {
                    let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
                    let ev = SocketEvent::parse(&frames);
                    (Input::Event(ev.clone()), Ok(ev))
                }
                Err(e) => (Input::Failed, Err(e)),
            };
            if me.apply(&input, None) {
                let cb: &mut MonitorCb<R, S> = &mut cb;
                cb(&me, result);
            }
        });
        if let Err(e) = started.and_then(|()| socket.monitor(&link.endpoint)) {
            reader.close();
            return Err(e);
        }
        Ok(MonitorHandle { reader, link })
    }

    /// Runs one transition; returns whether the input goes to the
    /// callback. A reader to close gets `on_close` as its close callback.
    fn apply(&self, input: &Input, on_close: Option<ReaderCloseCb<R, S>>) -> bool {
        let (next, effects) = step(self.link.state.get(), input);
        self.link.state.set(next);
        if effects.switch_off {
            self.link.switch_off();
        }
        if effects.close_reader {
            match on_close {
                Some(cb) => self.reader.close_with(cb),
                None => self.reader.close(),
            }
        }
        effects.deliver
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.reader.event_loop()
    }

    /// Active from creation until monitoring stops (or the handle closes).
    pub fn is_active(&self) -> bool {
        self.reader.is_active()
    }

    /// True once closing began: by `close()`, or by itself after
    /// `MonitorStopped` or an error.
    pub fn is_closed(&self) -> bool {
        self.reader.is_closed()
    }

    /// The `inproc://` endpoint libzmq's monitor is bound at.
    pub fn endpoint(&self) -> &str {
        &self.link.endpoint
    }

    /// Switches monitoring off and stops callbacks at once.
    pub fn close(&self) {
        self.apply(&Input::Close, None);
    }

    /// As [`close`](Self::close); `cb` runs once, from the loop, after it
    /// closed. On a closed handle `cb` is dropped uncalled.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        let link = self.link.clone();
        let on_close = Box::new(move |h: &StreamHandle<R, S>| {
            cb(&MonitorHandle {
                reader: h.clone(),
                link,
            })
        });
        self.apply(&Input::Close, Some(on_close));
    }
}

impl<R: Reactor, S: Socket> StreamHandle<R, S> {
    /// Starts reporting this handle's socket events to `cb`, from the loop,
    /// in libzmq's order (see [`MonitorHandle`]). `connect` gets the
    /// `inproc://` endpoint libzmq's monitor is bound at and returns the
    /// PAIR socket connected to it (with an unlimited receive high-water
    /// mark, set before it connects). A later `monitor` replaces this one,
    /// which then gets `MonitorStopped`. `Err(Closed)` on a closed handle.
    pub fn monitor(
        &self,
        connect: impl FnOnce(&str) -> Result<S>,
        cb: impl FnMut(&MonitorHandle<R, S>, Result<SocketEvent>) + 'static,
    ) -> Result<MonitorHandle<R, S>> {
        monitor_of(
            self.is_closed(),
            self.event_loop(),
            self.watched(),
            connect,
            cb,
        )
    }
}

impl<R: Reactor, S: Socket> PollHandle<R, S> {
    /// As [`StreamHandle::monitor`], for a poll handle's socket.
    pub fn monitor(
        &self,
        connect: impl FnOnce(&str) -> Result<S>,
        cb: impl FnMut(&MonitorHandle<R, S>, Result<SocketEvent>) + 'static,
    ) -> Result<MonitorHandle<R, S>> {
        monitor_of(
            self.is_closed(),
            self.event_loop(),
            self.watched(),
            connect,
            cb,
        )
    }
}

/// What `monitor` does for either handle kind: `Err(Closed)` on a closed
/// handle (or one whose loop is gone), else a monitor of `target`'s socket.
fn monitor_of<R: Reactor, S: Socket>(
    closed: bool,
    lp: Result<EventLoop<R>>,
    target: Weak<dyn Watched<S>>,
    connect: impl FnOnce(&str) -> Result<S>,
    cb: impl FnMut(&MonitorHandle<R, S>, Result<SocketEvent>) + 'static,
) -> Result<MonitorHandle<R, S>> {
    if closed {
        return Err(crate::Error::Closed);
    }
    let lp = lp?;
    let strong = target.upgrade().ok_or(crate::Error::Closed)?;
    MonitorHandle::start(&lp, target, strong.watched_socket(), connect, cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16) -> Input {
        Input::Event(SocketEvent::parse(&SocketEvent::frames(kind, 0, "")))
    }

    #[test]
    fn monitor_stopped_is_the_last_event_and_closes_the_reader() {
        let (next, fx) = step(Monitoring::Watching, &event(0x0400));
        assert_eq!(next, Monitoring::Stopped);
        assert!(fx.deliver && fx.close_reader && !fx.switch_off);
        let (next, fx) = step(next, &event(0x0001));
        assert_eq!(next, Monitoring::Stopped);
        assert!(!fx.deliver && !fx.close_reader);
    }

    #[test]
    fn close_switches_off_once_and_delivers_nothing() {
        let (next, fx) = step(Monitoring::Watching, &Input::Close);
        assert_eq!(next, Monitoring::Stopped);
        assert!(!fx.deliver && fx.close_reader && fx.switch_off);
        let (_, fx) = step(next, &Input::Close);
        assert!(!fx.close_reader && !fx.switch_off);
    }

    #[test]
    fn an_error_is_delivered_once_and_stops() {
        let (next, fx) = step(Monitoring::Watching, &Input::Failed);
        assert_eq!(next, Monitoring::Stopped);
        assert!(fx.deliver && fx.close_reader && fx.switch_off);
        let (_, fx) = step(next, &Input::Failed);
        assert!(!fx.deliver);
    }

    #[test]
    fn other_events_keep_watching() {
        let (next, fx) = step(Monitoring::Watching, &event(0x1000));
        assert_eq!(next, Monitoring::Watching);
        assert!(fx.deliver && !fx.close_reader && !fx.switch_off);
    }
}
